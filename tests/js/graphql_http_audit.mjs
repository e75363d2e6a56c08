// Runs the GraphQL-over-HTTP audit of the `graphql-http` package against a running server and
// prints its results as JSON: node graphql_http_audit.mjs URL (NODE_PATH: where npm put it).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { auditServer } = require("graphql-http");

const url = process.argv[2];
if (!url) {
  console.error("usage: node graphql_http_audit.mjs URL");
  process.exit(2);
}
const results = await auditServer({ url });
const summary = await Promise.all(
  results.map(async (result) => ({
    name: result.name,
    status: result.status,
    reason: result.status === "ok" ? undefined : result.reason,
    response:
      result.status === "ok" || !result.response
        ? undefined
        : { status: result.response.status, headers: Object.fromEntries(result.response.headers) },
  })),
);
console.log(JSON.stringify(summary));
