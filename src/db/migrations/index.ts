import type { Migration } from "../migrate.ts";
import { m001Core } from "./001_core.ts";

/** Every migration, in order. Append new ones; never edit one that has shipped. */
export const migrations: Migration[] = [m001Core];
