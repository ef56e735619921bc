import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { Page } from "playwright-core"
import { Accounts } from "../src/Accounts.ts"
import type { OperatorScope } from "../src/Domain/Models.ts"
import { escapeHtml } from "../src/Http/Dashboard/Html.ts"
import { actionPaths } from "../src/Http/Dashboard/Paths.ts"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { browse, BrowserLive, freshPage, otherSite, screenshot } from "./support/Browser.ts"
import { type Backend, backends } from "./support/Databases.ts"
import { Fake, firstInLine, gatewayLayer, gatewayUrl, postResponses, setupPool } from "./support/Gateway.ts"

// An operator token of `scope` typed into the sign-in form of a browser context of its own; answers its page.
const signIn = (scope: OperatorScope) =>
  Effect.gen(function*() {
    const { token } = yield* (yield* OperatorTokens).create({ scope })
    const url = yield* gatewayUrl
    const page = yield* freshPage
    yield* browse(async () => {
      expect((await page.goto(`${url}/admin`))?.status()).toBe(401)
      await page.getByLabel("Operator token").fill(token)
      await page.getByRole("button", { name: "Sign in" }).click()
      await page.waitForURL(`${url}/admin`)
      await page.getByRole("heading", { name: "Service" }).waitFor()
    })
    return page
  })

// Submits the form holding `button` and waits for the page it leads to.
const submit = (page: Page, button: ReturnType<Page["getByRole"]>) =>
  browse(() => Promise.all([page.waitForEvent("load"), button.click()]))

const keysOf = (slug: string) =>
  Effect.map(Effect.flatMap(PoolKeys, (keys) => keys.list), (keys) => keys.filter((key) => key.poolSlug === slug))

// The buttons of an admin session's forms (`Controls.ts`).
const adminButtons = [
  "Pause",
  "Resume",
  "Clear rest",
  "Sign in again",
  "Remove",
  "Revoke",
  "Set strategy",
  "Sign an account in",
  "Create key",
  "Set limits",
  "Create Pool"
]

const shot = (backend: Backend, page: Page, name: string) => screenshot(page, `${backend}-${name}`)

describe.each(backends)("the dashboard in Chromium on %s", (backend) => {
  const gateway = Layer.merge(gatewayLayer(backend), BrowserLive)
  layer(gateway, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.scoped("a key made on the page shows its secret once, works as a Pool key, and stops when revoked", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const page = yield* signIn("admin")
        yield* shot(backend, page, "dashboard")
        const form = page.locator("form", { has: page.getByRole("button", { name: "Create key" }) })
        const secretText = yield* browse(async () => {
          await form.getByLabel("Pool").selectOption(pool.slug)
          await form.getByLabel("name").fill("from the browser")
          // The keyboard reaches the form's button and submits it.
          await form.getByLabel("expires in").focus()
          await page.keyboard.press("Tab")
          expect(await page.locator(":focus").textContent()).toBe("Create key")
          await Promise.all([page.waitForURL(/\/admin\/keys\/create$/), page.keyboard.press("Enter")])
          return page.locator("code.secret").textContent()
        })
        const secret = /^cpk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/.exec(secretText ?? "")
        expect(secret).not.toBeNull()
        const [token, keyId] = [secret?.[0] ?? "", secret?.[1] ?? ""]
        expect((yield* keysOf(pool.slug)).map((key) => [key.id, key.name])).toContainEqual([keyId, "from the browser"])
        yield* shot(backend, page, "new-key")

        for (const leave of [() => page.goBack(), () => page.reload()]) {
          const content = yield* browse(async () => {
            await leave()
            return page.content()
          })
          expect(content).not.toContain(token)
        }
        const dashboard = yield* browse(() => page.content())
        expect(page.url()).toMatch(/\/admin$/)
        expect(dashboard).toContain(keyId)
        expect((yield* postResponses(token, "thread-browser-key")).status).toBe(200)

        yield* submit(page, page.locator("tr", { hasText: keyId }).getByRole("button", { name: "Revoke" }))
        expect(yield* browse(() => page.getByRole("status").textContent())).toBe(`Revoked key ${keyId}.`)
        expect((yield* keysOf(pool.slug)).find((key) => key.id === keyId)?.status).toBe("revoked")
        // A verified key is cached for 2 s.
        yield* Effect.sleep("2100 millis")
        expect((yield* postResponses(token, "thread-browser-key")).status).toBe(401)
      }))

    it.scoped("an account paused on the page is skipped by routing", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const [first, second] = [pool.accounts[0]!, pool.accounts[1]!]
        yield* firstInLine(pool)
        const page = yield* signIn("admin")
        yield* submit(page, page.locator("tr", { hasText: first.id }).getByRole("button", { name: "Pause" }))
        expect(yield* browse(() => page.getByRole("status").textContent())).toBe(`Paused account ${first.id}.`)
        expect((yield* (yield* Accounts).get(first.id)).status).toBe("paused")
        const row = page.locator("tr", { hasText: first.id })
        expect(yield* browse(() => row.getByRole("button", { name: "Resume" }).count())).toBe(1)
        fake.reset()
        expect((yield* postResponses(pool.key, "thread-browser-pause")).status).toBe(200)
        expect(fake.requests.map((request) => request.accountId)).toEqual([second.fake.accountId])
      }))

    it.scoped("another site's form posting to the gateway in the signed-in browser is refused and creates nothing", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const url = yield* gatewayUrl
        const page = yield* signIn("admin")
        const csrf = yield* browse(() => page.locator(`input[name="csrf"]`).first().inputValue())
        // Same site (127.0.0.1, so the SameSite=Strict cookie goes along), another origin (its port).
        const site = yield* otherSite((request) =>
          `<!doctype html><title>Prize</title><form method="post" action="${url}${actionPaths.createKey}">
<input type="hidden" name="csrf" value="${escapeHtml(request.searchParams.get("csrf") ?? "")}">
<input type="hidden" name="pool" value="${escapeHtml(pool.slug)}"><button>Claim the prize</button></form>`
        )
        // A guessed token, then the session's own one as if it had leaked: the Origin alone refuses both.
        for (const token of ["guessed-csrf-token", csrf]) {
          yield* browse(() => page.goto(`${site}/?${new URLSearchParams({ csrf: token })}`))
          const refused = yield* browse(async () => {
            const [response] = await Promise.all([
              page.waitForResponse((response) => response.url() === `${url}${actionPaths.createKey}`),
              page.getByRole("button", { name: "Claim the prize" }).click()
            ])
            await page.waitForURL(`${url}${actionPaths.createKey}`)
            const cookie = await response.request().headerValue("cookie")
            return { status: response.status(), cookie, text: await page.locator("body").innerText() }
          })
          expect(refused.cookie).toMatch(/^codex_pooler_admin=/)
          expect(refused.status).toBe(403)
          expect(refused.text).toContain("The form was not sent from this gateway's own page.")
          expect(refused.text).toContain("Nothing was changed.")
          expect(refused.text).not.toMatch(/cpk_/)
        }
        yield* shot(backend, page, "refused")
        expect(yield* keysOf(pool.slug)).toHaveLength(1)
        // The same form from the gateway's own page goes through, so the refusals were for the other site.
        const form = page.locator("form", { has: page.getByRole("button", { name: "Create key" }) })
        yield* browse(() => page.goto(`${url}/admin`))
        yield* browse(() => form.getByLabel("Pool").selectOption(pool.slug))
        yield* submit(page, form.getByRole("button", { name: "Create key" }))
        expect(yield* keysOf(pool.slug)).toHaveLength(2)
      }))

    it.scoped("a read token's session shows the page without any action form", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const page = yield* signIn("read")
        const seen = yield* browse(async () => ({
          text: await page.locator("body").innerText(),
          buttons: await page.getByRole("button").allTextContents(),
          csrf: await page.locator(`input[name="csrf"]`).count(),
          forms: await page.locator("form").count()
        }))
        expect(seen.text).toContain(pool.slug)
        expect(seen.text).toContain(pool.accounts[0]!.id)
        expect(seen.buttons).toContain("Sign out")
        for (const action of adminButtons) expect(seen.buttons).not.toContain(action)
        // its one form is sign-out's (which carries the session's CSRF token, as every post does)
        expect(seen.forms).toBe(1)
        expect(seen.csrf).toBe(1)
        // The pictures, as a screen reader meets them: one labelled image per chart of the Pool.
        const charts = yield* browse(() =>
          page.getByRole("img", { name: /^(requests|tokens), last (24 h by hour|7 days): [\d,]+ in all$/ }).count()
        )
        expect(charts).toBeGreaterThanOrEqual(4)
        yield* shot(backend, page, "read-only")
        // The keyboard reaches its button.
        yield* browse(async () => {
          for (let tab = 0; tab < 20 && await page.locator("button:focus").count() === 0; tab++) {
            await page.keyboard.press("Tab")
          }
        })
        expect(yield* browse(() => page.locator(":focus").textContent())).toBe("Sign out")
      }))
  })
})
