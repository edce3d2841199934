// --stop: text that ends generation and is never printed. Token text is held back while it could
// still grow into a stop string, then released (or cut at the stop string).
import type { TokenEvent } from "./events.js";

/** Holds back text that might be the start of a stop string, so a stop string is never printed. */
export class StopMatcher {
  private held: TokenEvent[] = [];
  private heldText = "";
  constructor(private readonly stops: string[]) {}

  /** Returns the events that are safe to release, and whether a stop string was hit. */
  push(event: TokenEvent): { release: TokenEvent[]; stopped: boolean } {
    if (this.stops.length === 0) return { release: [event], stopped: false };
    this.held.push(event);
    this.heldText += event.text;
    // Several stop strings may complete in one token: cut at the one that starts first in the text.
    let at = -1;
    for (const s of this.stops) {
      const i = this.heldText.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) return { release: this.cut(at), stopped: true };
    // Keep only the shortest tail that could still grow into a stop string.
    let keepFrom = this.heldText.length;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.heldText.length); k > 0; k--) {
        if (this.heldText.endsWith(s.slice(0, k))) {
          keepFrom = Math.min(keepFrom, this.heldText.length - k);
          break;
        }
      }
    }
    return { release: this.releaseBefore(keepFrom), stopped: false };
  }

  flush(): TokenEvent[] {
    const out = this.held;
    this.held = [];
    this.heldText = "";
    return out;
  }

  /** Events whose text lies entirely before `offset` in the held text. */
  private releaseBefore(offset: number): TokenEvent[] {
    const out: TokenEvent[] = [];
    let pos = 0;
    while (this.held.length > 0 && pos + this.held[0].text.length <= offset) {
      const e = this.held.shift()!;
      pos += e.text.length;
      out.push(e);
    }
    this.heldText = this.heldText.slice(pos);
    return out;
  }

  /** Releases everything up to `offset`, truncating the event that straddles it. */
  private cut(offset: number): TokenEvent[] {
    const out: TokenEvent[] = [];
    let pos = 0;
    for (const e of this.held) {
      if (pos >= offset) break;
      const room = offset - pos;
      out.push(e.text.length <= room ? e : { ...e, text: e.text.slice(0, room) });
      pos += e.text.length;
    }
    this.held = [];
    this.heldText = "";
    return out;
  }
}
