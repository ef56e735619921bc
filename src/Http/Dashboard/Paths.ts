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
  setPoolStrategy: "/admin/pools/strategy",
  signInAccount: "/admin/accounts/sign-in",
  redeemReset: "/admin/accounts/redeem-reset",
  setPoolFlag: "/admin/pools/flag"
} as const

// Where a device sign-in started from the dashboard is followed until it ends (?id=signin_…).
export const signInPath = "/admin/sign-in"

export type ActionName = keyof typeof actionPaths
