/**
 * How the MCP `http_request` tool reaches an HTTP connection: the HTTP protocol's request core (identity,
 * policy, injected credential, masking) lent by the composition root. Until one is wired the tool is not
 * listed, and a call to it says there are no HTTP connections on this gateway.
 */
export interface HttpToolRequest {
  readonly sessionId: string;
  readonly connection: string;
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  readonly signal: AbortSignal;
}

export interface HttpToolResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Already masked by the HTTP core. */
  readonly body: string;
}

export interface HttpRequestRunner {
  /** Names of the HTTP connections it serves. */
  connections(): readonly string[];
  run(request: HttpToolRequest): Promise<HttpToolResponse>;
}
