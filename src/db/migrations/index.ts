import type { Migration } from "../migrate.ts";
import { m001Core } from "./001_core.ts";
import { m002Slack } from "./002_slack.ts";
import { m003Teams } from "./003_teams.ts";
import { m004Jobs } from "./004_jobs.ts";
import { m005Shares } from "./005_shares.ts";
import { m006TeamsUsers } from "./006_teams_users.ts";
import { m007Connections } from "./007_connections.ts";
import { m008Workflows } from "./008_workflows.ts";
import { m009DriveItems } from "./009_drive_items.ts";
import { m010AiKeys } from "./010_ai_keys.ts";
import { m011Operations } from "./011_operations.ts";
import { m012EmbeddingSpaces } from "./012_embedding_spaces.ts";
import { m014DashboardIndexes } from "./014_dashboard_indexes.ts";

/** Every migration, in order. Append new ones; never edit one that has shipped. */
export const migrations: Migration[] = [
  m001Core,
  m002Slack,
  m003Teams,
  m004Jobs,
  m005Shares,
  m006TeamsUsers,
  m007Connections,
  m008Workflows,
  m009DriveItems,
  m010AiKeys,
  m011Operations,
  m012EmbeddingSpaces,
  m014DashboardIndexes,
];
