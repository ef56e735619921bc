// The token of an `Authorization: Bearer <token>` header, for Pool keys and operator tokens alike.
export const bearerOf = (authorization: string | undefined): string | undefined =>
  authorization === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1]
