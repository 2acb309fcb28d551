import type { AiService } from "../../ai/service.ts";
import type { ChatMessage, ReplyStream } from "../../core/ports.ts";
import type { Config } from "../../config.ts";
import type { Db } from "../../db/index.ts";
import type { Memory } from "../../memory/memory.ts";
import type { Principal } from "../../memory/types.ts";
import type { Logger } from "../../observability/logger.ts";
import type { Intent, StatusContributor } from "../types.ts";

/** What every handler gets. */
export interface HandlerContext {
  msg: ChatMessage;
  intent: Intent;
  principals: Principal[];
  /** Earlier user questions of this thread, oldest first. */
  history: string[];
  db: Db;
  memory: Memory;
  logger: Logger;
  config?: Config;
  statusContributors: StatusContributor[];
  /** Source ids to search; all of the tenant's sources when absent. */
  sources?: string[];
  /** Only documents modified at or after this time (ms since epoch), from a `since:` filter. */
  since?: number;
  /** Minimum answer confidence (see bot/answer.ts). */
  minConfidence: number;
  /** Generated answers with the workspace's key (absent: extractive only). */
  ai?: AiService;
  /** Where a generated answer streams (Slack), when the adapter supports it. */
  stream?: ReplyStream;
}
