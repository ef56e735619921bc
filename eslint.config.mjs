import effect from "@effect/eslint-plugin"
import eslint from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["dist", "node_modules", ".codex-pooler", "coverage", "scratch"] },
  eslint.configs.recommended,
  tseslint.configs.strict,
  {
    files: ["**/*.ts", "**/*.mjs"],
    plugins: { "@effect": effect },
    rules: {
      // STYLE.md #25: 2 spaces, 120 columns, no semicolons, double quotes.
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/no-explicit-any": "error",
      // STYLE.md #3: a port's service type lives in a `declare namespace` beside its Tag.
      "@typescript-eslint/no-namespace": ["error", { allowDeclarations: true }],
      // `Effect.async<void>`, `Deferred.make<void>()`: void as a type argument of a call is how Effect says "no value".
      "@typescript-eslint/no-invalid-void-type": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }]
    }
  },
  {
    // Tests index the rows and frames they just made; a missing one fails the test either way.
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: { "@typescript-eslint/no-non-null-assertion": "off" }
  }
)
