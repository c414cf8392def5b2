import { Handle, Position } from "@xyflow/react";
import { memo } from "react";
import type { PortSpec } from "../../api/types";
import { inHandle, outHandle } from "../../graph/types";
import { PORT_COLOURS } from "../theme";

interface PortsProps {
  inputs: PortSpec[];
  outputs: PortSpec[];
  aliases: Record<string, string>;
}

function portTitle(port: PortSpec): string {
  const notes = [port.required ? "required" : "", port.multiple ? "accepts several" : ""].filter(Boolean);
  return `${port.label || port.id} · ${port.type}${notes.length ? ` (${notes.join(", ")})` : ""}`;
}

/** Inputs on the left edge, outputs on the right, each named and coloured by its type. */
function PortsView({ inputs, outputs, aliases }: PortsProps) {
  return (
    <div className="wf-ports">
      <div className="wf-ports__col">
        {inputs.map((port) => (
          <div className="wf-port wf-port--in" key={port.id} title={portTitle(port)}>
            <Handle
              type="target"
              position={Position.Left}
              id={inHandle(port.id)}
              className={`wf-handle${port.multiple ? " wf-handle--multi" : ""}`}
              style={{ background: PORT_COLOURS[port.type] }}
            />
            <span className="wf-port__label">
              {port.label || port.id}
              {port.required ? <b>*</b> : null}
            </span>
          </div>
        ))}
      </div>
      <div className="wf-ports__col wf-ports__col--out">
        {outputs.map((port) => (
          <div className="wf-port wf-port--out" key={port.id} title={portTitle(port)}>
            <span className="wf-port__label">{port.label || port.id}</span>
            <Handle
              type="source"
              position={Position.Right}
              id={outHandle(port.id)}
              className="wf-handle"
              style={{ background: PORT_COLOURS[port.type] }}
            />
            {Object.entries(aliases)
              .filter(([, real]) => real === port.id)
              .map(([alias]) => (
                // Saved graphs may use an alias handle (input:text's "out-prompt"); it sits
                // invisibly on the real one so such edges still render.
                <Handle
                  key={alias}
                  type="source"
                  position={Position.Right}
                  id={outHandle(alias)}
                  className="wf-handle wf-handle--alias"
                  isConnectableStart={false}
                />
              ))}
          </div>
        ))}
      </div>
    </div>
  );
}

export const Ports = memo(PortsView);
