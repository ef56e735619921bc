import { randomBytes } from "node:crypto"

export const newId = (prefix: "pool" | "acct" | "req" | "inst" | "rdm"): string =>
  `${prefix}_${randomBytes(8).toString("hex")}`
