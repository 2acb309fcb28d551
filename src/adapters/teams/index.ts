/** Microsoft Teams adapter: see adapter.ts. */
export {
  ConversationUnreachableError,
  createTeamsAdapter,
  type TeamsAdapter,
  type TeamsAdapterDeps,
} from "./adapter.ts";
export { replyActivity, replyCard } from "./cards.ts";
export { atomTenantFor, cleanText, threadConversationId } from "./normalize.ts";
export { ConversationReferences, type StoredReference } from "./references.ts";
