// Where each dashboard form posts; the forms and their handlers share these.
export const actionPaths = {
  pauseAccount: "/admin/accounts/pause",
  resumeAccount: "/admin/accounts/resume",
  removeAccount: "/admin/accounts/remove",
  clearRest: "/admin/accounts/clear-rest",
  createKey: "/admin/keys/create",
  revokeKey: "/admin/keys/revoke",
  setKeyLimits: "/admin/keys/limits",
  createPool: "/admin/pools/create",
  setPoolStrategy: "/admin/pools/strategy"
} as const

export type ActionName = keyof typeof actionPaths
