// Each sealed token is bound to its account and field (the AES-GCM AAD), so ciphertexts cannot be swapped between rows.
export const tokenAad = (accountId: string, field: "access" | "refresh" | "id") => `account:${accountId}:${field}_token`
