import { readFileSync } from "node:fs";

/** One stage of the load profile after scaling: requests per second ramp linearly to `target` over `seconds`. */
export interface Stage {
  name: string;
  seconds: number;
  /** Rate at the start and at the end of the stage (req/s). */
  fromRate: number;
  target: number;
  startS: number;
  endS: number;
  /** Requests the stage asks for: the area under its rate line. */
  plannedRequests: number;
}

interface ProfileFile {
  stages: { name: string; duration_s: number; target: number }[];
}

/**
 * Scales the profile in profile.json the way loadtest/script.js does: durations by `scale` (whole
 * seconds, at least one), targets by `rateScale` (a non-zero target stays at least 1 req/s).
 */
export function scaleProfile(profile: ProfileFile, scale: number, rateScale: number): Stage[] {
  if (!(scale > 0) || !(rateScale > 0)) throw new Error("LOAD_SCALE and LOAD_RATE_SCALE must be positive numbers");
  let startS = 0;
  let fromRate = 0;
  return profile.stages.map((stage) => {
    const seconds = Math.max(1, Math.round(stage.duration_s * scale));
    const target = stage.target === 0 ? 0 : Math.max(1, Math.round(stage.target * rateScale));
    const scaled: Stage = {
      name: stage.name,
      seconds,
      fromRate,
      target,
      startS,
      endS: startS + seconds,
      plannedRequests: Math.round(((fromRate + target) / 2) * seconds),
    };
    startS += seconds;
    fromRate = target;
    return scaled;
  });
}

/** Reads loadtest/profile.json and scales it. */
export function loadProfile(scale: number, rateScale: number): Stage[] {
  const file = JSON.parse(readFileSync(new URL("./profile.json", import.meta.url), "utf8")) as ProfileFile;
  return scaleProfile(file, scale, rateScale);
}
