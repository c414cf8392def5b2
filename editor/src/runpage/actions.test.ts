import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { createEditorStore } from "../store";
import { fakeEnv } from "../test/fakeEnv";
import { cancelRun, rerun, runPageUrl } from "./actions";

describe("the run page's actions", () => {
  it("retries from failed and opens the new run's page", async () => {
    const store = createEditorStore();
    const env = fakeEnv({
      "POST /workflows/executions/e1/rerun": { executionId: "e2", workflowId: "w1", status: "RUNNING" },
    });
    const opened: string[] = [];
    expect(await rerun(store, env, "e1", true, (url) => opened.push(url))).toBe("e2");
    expect(env.calls).toEqual([{ method: "POST", path: "/workflows/executions/e1/rerun", body: { fromFailed: true } }]);
    expect(opened).toEqual(["/runs/e2/"]);
  });

  it("tells why a re-run was refused, and stays", async () => {
    const store = createEditorStore();
    const env = fakeEnv({
      "POST /workflows/executions/e1/rerun": new ApiError(409, {
        error: "Only a failed or cancelled run can be retried from failed; this one is RUNNING",
        code: "not_failed",
      }),
    });
    const opened: string[] = [];
    expect(await rerun(store, env, "e1", true, (url) => opened.push(url))).toBeNull();
    expect(opened).toEqual([]);
    expect(store.getState().toasts.at(-1)?.message).toMatch(/Could not retry the run: Only a failed/);
  });

  it("asks to cancel, and says so", async () => {
    const store = createEditorStore();
    const env = fakeEnv({
      "POST /workflows/executions/e1/cancel": {
        executionId: "e1",
        status: "RUNNING",
        message: "Cancellation requested",
      },
    });
    await cancelRun(store, env, "e1");
    expect(store.getState().toasts.at(-1)).toMatchObject({ kind: "info", message: "Cancelling the run…" });
  });

  it("escapes the id in the page URL", () => {
    expect(runPageUrl("a/b")).toBe("/runs/a%2Fb/");
  });
});
