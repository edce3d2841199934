"""A small Llama-architecture causal LM (Hugging Face LlamaForCausalLM conventions).

RMSNorm, rotary position embeddings (rotate_half convention, theta 10000), grouped-query attention,
SwiGLU MLP, tied input/output embeddings, no biases. The attention is written with plain ops
(MatMul -> Mul(1/sqrt(d)) -> Add(mask) -> Softmax -> MatMul) so the ONNX export stays unfused.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

FLOAT_MIN = torch.finfo(torch.float32).min  # -3.4028e38


@dataclass
class Config:
    vocab_size: int = 4096
    dim: int = 256
    n_layers: int = 5
    n_heads: int = 8
    n_kv_heads: int = 4
    head_dim: int = 32
    hidden_dim: int = 704
    max_position_embeddings: int = 512
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Rotary(nn.Module):
    def __init__(self, head_dim, theta):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, position_ids):
        # position_ids [B, S] -> cos, sin [B, 1, S, head_dim]
        freqs = position_ids.to(torch.float32).unsqueeze(-1) * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)


class Attention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.q_proj = nn.Linear(c.dim, c.n_heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.dim, c.n_kv_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.dim, c.n_kv_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.n_heads * c.head_dim, c.dim, bias=False)
        self.scale = 1.0 / math.sqrt(c.head_dim)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        B, S, _ = x.shape
        c = self.c
        q = self.q_proj(x).view(B, S, c.n_heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, S, c.n_kv_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, S, c.n_kv_heads, c.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat((past_k, k), dim=2)
            v = torch.cat((past_v, v), dim=2)
        present_k, present_v = k, v
        rep = c.n_heads // c.n_kv_heads
        if rep > 1:
            # repeat_kv: [B, KV, T, D] -> [B, KV*rep, T, D] (HF order: each KV head repeated rep times)
            T = k.shape[2]
            k = k[:, :, None, :, :].expand(B, c.n_kv_heads, rep, T, c.head_dim).reshape(B, c.n_heads, T, c.head_dim)
            v = v[:, :, None, :, :].expand(B, c.n_kv_heads, rep, T, c.head_dim).reshape(B, c.n_heads, T, c.head_dim)
        scores = torch.matmul(q, k.transpose(2, 3)) * self.scale
        scores = scores + mask
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, v)
        out = out.transpose(1, 2).reshape(B, S, c.n_heads * c.head_dim)
        return self.o_proj(out), present_k, present_v


class MLP(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.gate_proj = nn.Linear(c.dim, c.hidden_dim, bias=False)
        self.up_proj = nn.Linear(c.dim, c.hidden_dim, bias=False)
        self.down_proj = nn.Linear(c.hidden_dim, c.dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(c.dim, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.dim, c.rms_norm_eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        a, pk, pv = self.self_attn(self.input_layernorm(x), cos, sin, mask, past_k, past_v)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, pk, pv


class LlamaLM(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.dim)
        self.layers = nn.ModuleList([Block(c) for _ in range(c.n_layers)])
        self.norm = RMSNorm(c.dim, c.rms_norm_eps)
        self.rotary = Rotary(c.head_dim, c.rope_theta)
        self.apply(self._init)
        # scaled init of residual projections (GPT-2 style)
        for n, p in self.named_parameters():
            if n.endswith("o_proj.weight") or n.endswith("down_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def n_params(self):
        return sum(p.numel() for p in self.parameters())

    def forward_train(self, idx):
        """Causal forward for training: idx [B, T] -> logits [B, T, V]."""
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device).unsqueeze(0).expand(B, T)
        cos, sin = self.rotary(pos)
        mask = torch.full((T, T), FLOAT_MIN).triu(1)[None, None]
        x = self.embed_tokens(idx)
        for layer in self.layers:
            x, _, _ = layer(x, cos, sin, mask)
        x = self.norm(x)
        return F.linear(x, self.embed_tokens.weight)

    def forward_cached(self, input_ids, attention_mask, position_ids, past):
        """HF-style forward. past: list of (k, v) [B, KV, P, D]. attention_mask [B, P+S] (1 = keep).

        Returns logits [B, S, V] and the list of presents."""
        B, S = input_ids.shape
        P = past[0][0].shape[2]
        cos, sin = self.rotary(position_ids)
        # causal part: query i (absolute P+i) may see key j iff j <= P+i
        q_pos = torch.arange(S, device=input_ids.device).unsqueeze(1) + P
        k_pos = torch.arange(P + S, device=input_ids.device).unsqueeze(0)
        causal = k_pos <= q_pos  # [S, P+S]
        keep = causal[None, None, :, :] & (attention_mask[:, None, None, :] > 0)  # [B,1,S,P+S]
        zero = torch.zeros((), dtype=torch.float32)
        neg = torch.full((), FLOAT_MIN, dtype=torch.float32)
        mask = torch.where(keep, zero, neg)
        x = self.embed_tokens(input_ids)
        presents = []
        for i, layer in enumerate(self.layers):
            x, pk, pv = layer(x, cos, sin, mask, past[i][0], past[i][1])
            presents.append((pk, pv))
        x = self.norm(x)
        return F.linear(x, self.embed_tokens.weight), presents
