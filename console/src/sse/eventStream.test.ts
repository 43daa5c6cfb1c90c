import { describe, expect, it } from "vitest";
import { parseEvents } from "./eventStream";

describe("parseEvents", () => {
  it("parses complete events, skips comments and keeps the partial rest", () => {
    const text = ': keep-alive\n\nevent: status\nid: 3\ndata: {"a":1}\n\nevent: status\nid: 4\nda';
    const { events, rest } = parseEvents(text);
    expect(events).toEqual([{ event: "status", id: "3", data: '{"a":1}' }]);
    expect(rest).toBe("event: status\nid: 4\nda");
  });

  it("joins multi-line data and accepts CRLF", () => {
    const { events } = parseEvents("data: one\r\ndata: two\r\n\r\n");
    expect(events).toEqual([{ event: "message", id: null, data: "one\ntwo" }]);
  });
});
