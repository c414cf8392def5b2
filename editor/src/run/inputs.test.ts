import { describe, expect, it } from "vitest";
import type { InputType } from "../api/types";
import type { BasedNode } from "../graph/types";
import { catalogue, node } from "../test/fixtures";
import { inputErrors, inputValues, runInputRows } from "./inputs";

const KINDS: Record<InputType, string> = {
  text: "textarea",
  image: "url",
  url: "url",
  number: "number",
  boolean: "checkbox",
  select: "select",
};

function withParams(n: BasedNode, params: BasedNode["data"]["params"]): BasedNode {
  return { ...n, data: { ...n.data, params } };
}

const inputTypes = [...catalogue.values()].filter((s) => s.inputParam);

describe("the run dialog's fields", () => {
  it("covers every input node type of the catalogue", () => {
    expect(inputTypes.map((s) => s.nodeType)).toEqual(
      expect.arrayContaining([
        "input:text",
        "input:image",
        "input:video",
        "input:audio",
        "input:number",
        "input:boolean",
        "input:select",
      ]),
    );
    for (const spec of catalogue.values()) expect(Boolean(spec.inputParam)).toBe(Boolean(spec.inputType));
  });

  it.each(inputTypes.map((s) => [s.nodeType, s.inputParam, s.inputType] as const))(
    "asks a %s node for its %s param as a %s field, never its other params",
    (nodeType, param, type) => {
      const [row] = runInputRows([node("n1", nodeType)], catalogue);
      expect(row.field.name).toBe(param);
      expect(row.type).toBe(type);
      expect(row.field.kind).toBe(KINDS[type as InputType]);
      expect(row.field.name).not.toBe("required");
    },
  );

  it("prefills the value saved in the node and titles the field with the node's label", () => {
    const text = withParams(node("p", "input:text"), { text: "a red fox", required: true });
    const [row] = runInputRows([text], catalogue);
    expect(row).toMatchObject({ nodeId: "p", label: "p", value: "a red fox" });
    expect(row.field.required).toBe(true);
  });

  it("offers a choice input's own options", () => {
    const choice = withParams(node("c", "input:select"), { options: ["cat", "dog"], value: "dog" });
    const [row] = runInputRows([choice], catalogue);
    expect(row.field.options).toEqual(["cat", "dog"]);
    expect(row.value).toBe("dog");
  });

  it("skips model, utility and output nodes", () => {
    const rows = runInputRows(
      [
        node("g", "generate:flux_2"),
        node("u", "utility:prompt_concat"),
        node("o", "output:result"),
        node("t", "input:text"),
      ],
      catalogue,
    );
    expect(rows.map((r) => r.nodeId)).toEqual(["t"]);
  });
});

describe("the run dialog's values", () => {
  const rows = runInputRows(
    [withParams(node("p", "input:text"), { required: true }), node("img", "input:image"), node("n", "input:number")],
    catalogue,
  );

  it("refuses a missing required value and a malformed URL before sending anything", () => {
    expect(inputErrors(rows, { p: "", img: "not a url", n: 3 })).toEqual({
      p: "p is required",
      img: "Enter an http(s) URL",
    });
    expect(inputErrors(rows, { p: "a fox", img: "https://example.com/a.png", n: 3 })).toEqual({});
    expect(inputErrors(rows, { p: "a fox", img: "/media/uploads/a.png", n: 3 })).toEqual({});
  });

  it("sends the values keyed by node id", () => {
    expect(inputValues(rows, { p: "a fox", img: undefined, n: 2 })).toEqual({ p: "a fox", n: 2 });
  });
});
