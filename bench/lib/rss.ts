import fs from "node:fs";

/** Memory figures of a Linux process, in kB as /proc reports them. */
export interface ProcMemory {
  /** Resident set size now (VmRSS). */
  rssKb: number;
  /** Peak resident set size so far (VmHWM). */
  hwmKb: number;
}

/**
 * Reads VmRSS and VmHWM of process `pid` from `/proc/<pid>/status` (Linux only).
 * @throws Error when the process does not exist or the fields are missing (non-Linux).
 */
export function readProcMemory(pid: number): ProcMemory {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${name} line`);
    return Number(m[1]);
  };
  return { rssKb: field("VmRSS"), hwmKb: field("VmHWM") };
}

/** kB → MB (1 MB = 1024 kB), one decimal. */
export function kbToMb(kb: number): number {
  return Math.round((kb / 1024) * 10) / 10;
}
