import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { createEditorStore } from "../store";
import { catalogue, node } from "../test/fixtures";
import { dropFile, uploadToNode } from "./actions";
import { CANVAS, uploadsOf } from "./progress";
import { errorBody, type Uploader } from "./transport";
import { kindOfContentType, kindOfNodeType } from "./types";

function editorWith(...nodes: ReturnType<typeof node>[]) {
  const store = createEditorStore();
  store.setState({ catalogue, nodes });
  return store;
}

/** An uploader that answers like the server, recording the progress it reported. */
function fakeUpload(contentType: string, seen: number[] = []): Uploader {
  return async (file, onProgress) => {
    onProgress(0.5);
    seen.push(0.5);
    return { id: "u1", url: `http://site/media/uploads/t/${file.name}`, contentType, size: file.size };
  };
}

const failing: Uploader = async () => {
  throw new ApiError(415, { error: "Unsupported file type", code: "unsupported_media_type" });
};

const png = () => new File([new Uint8Array([137, 80, 78, 71])], "photo.png", { type: "image/png" });

const params = (store: ReturnType<typeof editorWith>, id: string) =>
  store.getState().nodes.find((n) => n.id === id)?.data as { params: Record<string, unknown> } | undefined;

describe("uploads", () => {
  it("sets the node's URL from the inspector's upload, and clears its progress", async () => {
    const store = editorWith(node("img", "input:image"));
    expect(await uploadToNode(store, fakeUpload("image/png"), "img", png())).toBe(true);
    expect(params(store, "img")?.params.url).toBe("http://site/media/uploads/t/photo.png");
    expect(uploadsOf(store).getState().byTarget.img).toBeUndefined();
  });

  it("shows the progress while the file uploads", async () => {
    const store = editorWith(node("img", "input:image"));
    let finish: () => void = () => {};
    const slow: Uploader = (_file, onProgress) =>
      new Promise((resolve) => {
        onProgress(0.25);
        finish = () =>
          resolve({ id: "u", url: "http://site/media/uploads/t/a.png", contentType: "image/png", size: 4 });
      });
    const done = uploadToNode(store, slow, "img", png());
    expect(uploadsOf(store).getState().byTarget.img).toEqual({ progress: 0.25, fileName: "photo.png" });
    finish();
    await done;
    expect(uploadsOf(store).getState().byTarget.img).toBeUndefined();
  });

  it("tells the server's error in a toast and under the field, and leaves the URL alone", async () => {
    const store = editorWith(node("img", "input:image"));
    expect(await uploadToNode(store, failing, "img", png())).toBe(false);
    expect(params(store, "img")?.params.url).toBeUndefined();
    expect(uploadsOf(store).getState().byTarget.img.error).toBe("Unsupported file type");
    expect(store.getState().toasts.at(-1)?.message).toContain("Unsupported file type");
  });

  it("drops a file onto an input node of its kind: that node's URL", async () => {
    const store = editorWith(node("img", "input:image"));
    expect(await dropFile(store, fakeUpload("image/png"), png(), { x: 0, y: 0 }, "img")).toBe("img");
    expect(store.getState().nodes).toHaveLength(1);
    expect(params(store, "img")?.params.url).toContain("/photo.png");
  });

  it("drops a file on empty canvas: a new input node of the recognised kind at the drop point", async () => {
    const store = editorWith();
    const wav = new File([new Uint8Array(8)], "voice.wav", { type: "" }); // the browser did not know
    const id = await dropFile(store, fakeUpload("audio/wav"), wav, { x: 400, y: 300 }, null);
    const created = store.getState().nodes.find((n) => n.id === id);
    expect(created?.data.nodeType).toBe("input:audio");
    expect(created?.position).toEqual({ x: 270, y: 270 });
    expect(params(store, id as string)?.params.url).toContain("/voice.wav");
    expect(uploadsOf(store).getState().byTarget[CANVAS]).toBeUndefined();
  });

  it("drops an image onto a video input: a new image input, the video keeps its URL", async () => {
    const store = editorWith(node("vid", "input:video"));
    const id = await dropFile(store, fakeUpload("image/png"), png(), { x: 0, y: 0 }, "vid");
    expect(id).not.toBe("vid");
    expect(store.getState().nodes.find((n) => n.id === id)?.data.nodeType).toBe("input:image");
    expect(params(store, "vid")?.params.url).toBeUndefined();
  });

  it("refuses a file the browser knows is not media, without uploading it", async () => {
    const store = editorWith();
    let called = false;
    const upload: Uploader = async (file, p) => {
      called = true;
      return fakeUpload("image/png")(file, p);
    };
    const pdf = new File(["%PDF"], "doc.pdf", { type: "application/pdf" });
    expect(await dropFile(store, upload, pdf, { x: 0, y: 0 }, null)).toBeNull();
    expect(called).toBe(false);
    expect(store.getState().nodes).toHaveLength(0);
    expect(store.getState().toasts.at(-1)?.message).toContain("doc.pdf");
  });

  it("knows the kinds", () => {
    expect(kindOfContentType("image/webp")).toBe("image");
    expect(kindOfContentType("audio/ogg; codecs=opus")).toBe("audio");
    expect(kindOfContentType("text/html")).toBeNull();
    expect(kindOfNodeType("input:video")).toBe("video");
    expect(kindOfNodeType("input:text")).toBeNull();
  });

  it("reads a proxy's HTML 413 as too large", () => {
    expect(errorBody(null, 413)).toEqual({ error: "The file is too large", code: "payload_too_large" });
    expect(errorBody({ error: "no", code: "x" }, 400)).toEqual({ error: "no", code: "x" });
  });
});
