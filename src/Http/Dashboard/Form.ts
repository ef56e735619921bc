import { HttpServerRequest, UrlParams } from "@effect/platform"
import { Effect, Either, Option } from "effect"

export interface FormRefused {
  readonly status: 413 | 415
  readonly message: string
}

const mediaType = (contentType: string | undefined) => contentType?.split(";")[0]?.trim().toLowerCase()

// A form post's fields, parsed by the platform's urlencoded body reader, read to at most `limit` bytes.
export const readForm = (
  request: HttpServerRequest.HttpServerRequest,
  limit: number
): Effect.Effect<Either.Either<UrlParams.UrlParams, FormRefused>> =>
  Effect.gen(function*() {
    if (mediaType(request.headers["content-type"]) !== "application/x-www-form-urlencoded") {
      return Either.left({ status: 415, message: "must be sent as application/x-www-form-urlencoded" })
    }
    const tooLarge = Either.left({ status: 413, message: "is too large" } as const)
    if (Number(request.headers["content-length"] ?? 0) > limit) return tooLarge
    // Without a length (chunked), reading stops at the limit and the connection is dropped.
    const form = yield* request.urlParamsBody.pipe(
      HttpServerRequest.withMaxBodySize(Option.some(limit)),
      Effect.option
    )
    return Option.match(form, { onNone: () => tooLarge, onSome: (fields) => Either.right(fields) })
  })

// A field's first value, trimmed; a missing field reads as empty.
export const field = (form: UrlParams.UrlParams, name: string): string =>
  Option.getOrElse(UrlParams.getFirst(form, name), () => "").trim()
