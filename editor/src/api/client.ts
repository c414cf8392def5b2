/** A thin fetch wrapper: session cookie + CSRF header, JSON in and out, errors as ApiError. */

export interface ErrorBody {
  error: string;
  code: string;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.error);
  }

  get code(): string {
    return this.body.code;
  }
}

export class ApiClient {
  constructor(
    private readonly base: string,
    private readonly csrfToken: string,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }

  delete(path: string): Promise<unknown> {
    return this.request("DELETE", path);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method,
        credentials: "same-origin",
        headers: {
          Accept: "application/json",
          "X-CSRFToken": this.csrfToken,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, { error: "The server could not be reached", code: "network_error" });
    }
    return parseResponse<T>(response);
  }
}

async function parseResponse<T>(response: Response): Promise<T> {
  const text = await response.text();
  const json: unknown = text ? safeParse(text) : null;
  if (response.ok) return json as T;
  const body = isErrorBody(json) ? json : { error: `Request failed (${response.status})`, code: "http_error" };
  throw new ApiError(response.status, body);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  return typeof value === "object" && value !== null && typeof (value as ErrorBody).error === "string";
}
