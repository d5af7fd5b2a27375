/**
 * Writes Server-Sent Events in the framing the Anthropic Messages API uses: one `event:` line,
 * one `data:` line of compact JSON, then a blank line. JSON.stringify never emits a raw newline
 * (they are escaped inside strings), so a single `data:` line is always enough and a value can
 * never forge extra SSE fields.
 */

/**
 * One SSE frame: `event: <event>\ndata: <json>\n\n`.
 * Line breaks in the event name are removed so it cannot split the frame.
 */
export function formatSseEvent(event: string, data: unknown): string {
  const name = event.replace(/[\r\n]/g, '');
  // JSON.stringify(undefined) is undefined; `null` keeps the frame parseable by every client.
  return `event: ${name}\ndata: ${JSON.stringify(data) ?? 'null'}\n\n`;
}

/**
 * Anthropic's mid-stream error frame, which the official SDKs turn into an APIError:
 * `event: error\ndata: {"type":"error","error":{"type":...,"message":...}}\n\n`.
 */
export function sseErrorEvent(type: string, message: string): string {
  return formatSseEvent('error', { type: 'error', error: { type, message } });
}
