/**
 * Every test process appends its log lines (debug and up, redacted — also of the loggers tests
 * make silent) to `test/artifacts/logs/atom-<pid>.log` (ATOM_LOG_FILE, see
 * src/observability/logger.ts), so the run's secret check (scripts/secret-scan.ts in .ci/run)
 * greps what Atom really logged. An ATOM_LOG_FILE already set wins; set it empty to turn this off.
 */
import path from "node:path";

process.env.ATOM_LOG_FILE ??= path.resolve(import.meta.dirname, "../artifacts/logs/atom-{pid}.log");
