/** The core's ports, re-exported for adapter code (the definitions live in src/core/ports.ts). */
export type {
  ChatAction,
  ChatFile,
  ChatMessage,
  ConversationTarget,
  Messenger,
  Platform,
  Reply,
  TenantResolver,
} from "../core/ports.ts";
