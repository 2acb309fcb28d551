/**
 * Keeps every field of an outgoing activity's `entities` on the wire.
 *
 * botframework-connector 4.23.3 serialises a posted activity through its generated mappers
 * (`lib/connectorApi/models/mappers.js`), and the `Entity` mapper declares only `type`, `text` and
 * `mentioned`. @azure/core-client's serializer copies fields a composite mapper does not declare
 * only when the mapper has `additionalProperties` (`serializeCompositeType`), so Atom's
 * `https://schema.org/Message` entity (the "AI generated" label and its citations) and the
 * `streaminfo` entity reached Teams as `{ type }` alone. An entity is an open schema in the
 * Bot Framework Activity spec ("Entity: additional properties"), and botbuilder-js once declared
 * exactly this on the mapper (microsoft/botbuilder-js#2648); this restores that declaration.
 */
import { createRequire } from "node:module";

/** The one shape of a mapper this module touches. */
interface CompositeMapper {
  type: { name: string; className?: string; additionalProperties?: { type: { name: string } } };
}

const require = createRequire(import.meta.url);

/**
 * Declares `additionalProperties` (any JSON value) on botframework-connector's `Entity` mapper, the
 * object every ConnectorClient serializer of this process reads. Idempotent.
 * @returns true when the mapper now keeps unknown entity fields.
 * @throws when the installed botframework-connector no longer has the mapper (an upgrade changed
 *   its layout: check whether the workaround is still needed).
 */
export function keepEntityFields(): boolean {
  const mappers = require("botframework-connector/lib/connectorApi/models/mappers.js") as {
    Entity?: CompositeMapper;
  };
  const entity = mappers.Entity;
  if (!entity || entity.type?.className !== "Entity")
    throw new Error("botframework-connector has no Entity mapper (see src/adapters/teams/entity-fields.ts)");
  entity.type.additionalProperties ??= { type: { name: "Object" } };
  return true;
}
