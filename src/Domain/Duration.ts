import { Either } from "effect"
import { InvalidInput } from "./Errors.ts"

const units: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

// Key lifetimes as operators write them: 90m, 12h, 30d, 8w.
export const parseLifetime = (text: string): Either.Either<number, InvalidInput> => {
  const match = /^(\d{1,6})([mhdw])$/.exec(text.trim())
  const amount = Number(match?.[1])
  const unit = units[match?.[2] ?? ""]
  return match !== null && unit !== undefined && amount > 0
    ? Either.right(amount * unit)
    : Either.left(
      new InvalidInput({ message: `"${text}" is not a duration: use a number and m, h, d or w (e.g. 30d)` })
    )
}
