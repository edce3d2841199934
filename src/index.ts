// The library API. The CLI uses exactly these entry points.
export { loadModel, type Model, type ModelFacts, type LoadOptions, type AttentionSource, type TappedCopy } from "./model/model.js";
export { defaultModelPath } from "./model/bundled.js";
export type { TopLogprob } from "./token-details.js";
export { generate, type GenerateOptions, type AttentionLayers, DEFAULT_MAX_TOKENS } from "./generate.js";
export type { GenerationEvent, TokenEvent, SummaryEvent, NoticeEvent, StopReason, BranchPointDetails, BranchCandidateDetails, BranchSummary } from "./events.js";
export { type BranchOptions, DEFAULT_BRANCH_TRIGGER, DEFAULT_BRANCH_LOOKAHEAD, DEFAULT_BRANCH_BUDGET } from "./branch/options.js";
export { BRANCH_SCORE_NAMES, BRANCH_SCORES, type BranchScoreName, type RolloutTrace } from "./branch/score.js";
export type { Quadrant, SamplerName, SamplerSettings, StepMetrics, ThresholdProfile } from "./types.js";
export { UsageError, ModelError, RuntimeFailure } from "./errors.js";
export { collectCalibrationSamples, type CalibrationSamples, type CollectOptions } from "./calibrate/calibrate.js";
export { CALIBRATION_PERCENTILES, thresholdsFromSamples } from "./calibrate/statistics.js";
export { findCalibratedProfile, resolveThresholds, type ResolvedThresholds } from "./calibrate/profile-store.js";
export { renderReport, type ReportRun, type ReportMeta } from "./report/render.js";
