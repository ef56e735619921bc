import type { Account } from "../Domain/Models.ts"

// An account on one line, as the account commands print it (the operator's own CLI: the e-mail in full).
export const describeAccount = (account: Account) =>
  `${account.id}  ${account.email ?? "(no email)"}  plan ${account.plan ?? "unknown"}  ${account.status}  pools ${
    account.pools.join(",") || "-"
  }`
