/**
 * GraphiQL for the Data Channels gateway, from files the gateway serves itself.
 *
 * Credentials never reach the browser's storage.  GraphiQL keeps its tabs, history and
 * favourites in localStorage, and each of those records the request headers (its history does
 * so even with shouldPersistHeaders off), so the storage GraphiQL is given here drops every
 * header: a wallet lives in the Headers editor of this page and nowhere else.
 */

const NAMESPACE = "graphiql:";

/** Everything stored without any `headers` value, at any depth. */
function withoutHeaders(value) {
  if (Array.isArray(value)) {
    return value.map(withoutHeaders);
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => key.toLowerCase() !== "headers")
        .map(([key, inner]) => [key, withoutHeaders(inner)]),
    );
  }
  return value;
}

/** A Storage for GraphiQL that writes to `backing` everything but request headers. */
function credentialFreeStorage(backing) {
  return {
    getItem: (key) => backing.getItem(key),
    removeItem: (key) => backing.removeItem(key),
    setItem(key, value) {
      if (key.toLowerCase().endsWith("headers")) {
        backing.removeItem(key);
        return;
      }
      let parsed;
      try {
        parsed = JSON.parse(value);
      } catch {
        backing.setItem(key, value); // plain text: a query or variables
        return;
      }
      backing.setItem(key, JSON.stringify(withoutHeaders(parsed)));
    },
    get length() {
      return Object.keys(backing).filter((key) => key.startsWith(NAMESPACE)).length;
    },
    clear() {
      for (const key of Object.keys(backing)) {
        if (key.startsWith(NAMESPACE)) {
          backing.removeItem(key);
        }
      }
    },
  };
}

const storage = credentialFreeStorage(window.localStorage);

// Whatever an earlier GraphiQL (one that kept headers) left behind goes now.
for (const key of Object.keys(window.localStorage)) {
  if (key.startsWith(NAMESPACE)) {
    storage.setItem(key, window.localStorage.getItem(key));
  }
}

const config = JSON.parse(document.getElementById("datachannels-config").textContent);
const fetcher = GraphiQL.createFetcher({ url: config.endpoint });
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    storage,
    defaultQuery: config.query,
    defaultHeaders: config.headers,
    defaultTabs: [{ query: config.query, variables: config.variables, headers: config.headers }],
    shouldPersistHeaders: false,
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: "headers",
  }),
);
