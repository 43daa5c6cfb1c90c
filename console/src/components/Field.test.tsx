import { describe, expect, it, afterEach } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import { Field } from "./Field";
import { ErrorState, Empty } from "./States";

afterEach(cleanup);

describe("Field", () => {
  it("ties the API's error to its control for assistive technology", () => {
    render(<Field id="width" label="Width" error="must be a multiple of 16">{(aria) => <input {...aria} />}</Field>);
    const input = screen.getByLabelText("Width");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby")).toBe("width-error");
    expect(document.getElementById("width-error")?.textContent).toBe("must be a multiple of 16");
  });

  it("is plain without an error", () => {
    render(<Field id="seed" label="Seed">{(aria) => <input {...aria} />}</Field>);
    expect(screen.getByLabelText("Seed").hasAttribute("aria-invalid")).toBe(false);
  });
});

describe("states", () => {
  it("shows an error as an alert with a retry", () => {
    render(<ErrorState error={new Error("boom")} retry={() => undefined} />);
    expect(screen.getByRole("alert").textContent).toContain("boom");
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
  });

  it("shows an empty state's content", () => {
    render(<Empty>Nothing here</Empty>);
    expect(screen.getByText("Nothing here")).toBeTruthy();
  });
});
