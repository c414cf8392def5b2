import { describe, expect, it } from "vitest";
import type { JsonSchema } from "../api/types";
import { defaultParams, fieldsFor, validateField } from "./schema";

const schema: JsonSchema = {
  type: "object",
  required: ["image_url"],
  properties: {
    prompt: { type: "string", default: "", format: "textarea", title: "Prompt" },
    image_url: { type: "string" },
    num_images: { type: "integer", default: 1, minimum: 1, maximum: 4 },
    seed: { anyOf: [{ type: "integer", minimum: 0 }, { type: "null" }], default: null },
    image_size: { type: "string", enum: ["square", "landscape_4_3"], default: "landscape_4_3" },
    image_urls: { type: "array", items: { type: "string" }, maxItems: 2 },
    sync: { type: "boolean", default: false },
    retries: { type: "integer", default: 3, group: "advanced" },
  },
};
const byName = Object.fromEntries(fieldsFor(schema).map((f) => [f.name, f]));

describe("fieldsFor", () => {
  it("chooses a widget per kind of param", () => {
    expect(Object.fromEntries(Object.values(byName).map((f) => [f.name, f.kind]))).toEqual({
      prompt: "textarea",
      image_url: "text",
      num_images: "integer",
      seed: "seed",
      image_size: "select",
      image_urls: "list",
      sync: "checkbox",
      retries: "integer",
    });
  });
  it("unwraps optional values and keeps their bounds", () => {
    expect(byName.seed).toMatchObject({ nullable: true, min: 0 });
  });
  it("folds advanced params away", () => {
    expect(byName.retries.advanced).toBe(true);
    expect(byName.prompt.advanced).toBe(false);
  });
});

describe("defaultParams", () => {
  it("starts a node with every declared default except null", () => {
    expect(defaultParams(schema)).toEqual({
      prompt: "",
      num_images: 1,
      image_size: "landscape_4_3",
      sync: false,
      retries: 3,
    });
  });
});

describe("validateField", () => {
  it("checks bounds, integers, choices, list length and required values", () => {
    expect(validateField(byName.num_images, 9)).toBe("At most 4");
    expect(validateField(byName.num_images, 1.5)).toBe("Enter a whole number");
    expect(validateField(byName.image_size, "huge")).toMatch(/Choose one of/);
    expect(validateField(byName.image_urls, ["a", "b", "c"])).toBe("At most 2 items");
    expect(validateField(byName.image_url, "")).toBe("Image url is required");
    expect(validateField(byName.num_images, 2)).toBeNull();
  });
});
