import { Context } from "effect"

export interface ActorShape {
  readonly kind: "cli" | "operator_token" | "system" | "pool_key"
  readonly id: string | null
}

export class Actor extends Context.Tag("Gateway/Actor")<Actor, ActorShape>() {
  static readonly Cli: ActorShape = { kind: "cli", id: null }
}
