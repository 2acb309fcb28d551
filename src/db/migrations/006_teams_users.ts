import type { Migration } from "../migrate.ts";

/**
 * Teams: who a personal (1:1) conversation is with, so a direct message to a person
 * (`ConversationTarget` with only `userId`) finds the chat Atom already has with them.
 * `user_id` is the person's Entra object id when Teams sent one, else their Teams user id — the
 * same id `ChatMessage.userId` carries.
 */
export const m006TeamsUsers: Migration = {
  id: 6,
  name: "teams_users",
  sql: `
ALTER TABLE teams_conversations ADD COLUMN user_id text;
UPDATE teams_conversations
  SET user_id = COALESCE(reference->'user'->>'aadObjectId', reference->'user'->>'id')
  WHERE conversation_type = 'personal';
CREATE INDEX teams_conversations_personal ON teams_conversations (tenant_id, user_id)
  WHERE conversation_type = 'personal';
`,
};
