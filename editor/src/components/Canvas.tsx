import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  ReactFlow,
  SelectionMode,
  useReactFlow,
  type Connection,
  type Edge,
  type FinalConnectionState,
  type OnSelectionChangeParams,
} from "@xyflow/react";
import { type DragEvent, useCallback, useMemo, useState } from "react";
import { checkConnection, outputPortType } from "../graph/connection";
import { isBasedNode, type WfEdge, type WfNode } from "../graph/types";
import { useEditor, useEditorList, useEditorStore } from "../store";
import { dropFile } from "../upload/actions";
import { DropStatus } from "../upload/DropStatus";
import { useUploader } from "../upload/useUploader";
import { nodeTypes } from "./nodes/nodeTypes";
import { DescribeBox } from "./DescribeBox";
import { categoryColour, PORT_COLOURS } from "./theme";

export const NODE_DRAG_MIME = "application/x-wireflow-node";
const SNAP: [number, number] = [16, 16];
// Props passed as literals would be new objects on every render, and React Flow would push
// them into its store and re-render all 500 edges on each drag frame; so they live here.
const FIT = { padding: 0.2, maxZoom: 1 };
const PRO = { hideAttribution: true };
const EDGE_DEFAULTS = { interactionWidth: 16 };
const MULTI_SELECT_KEYS = ["Meta", "Control"];
const MINIMAP_STYLE = { width: 180, height: 120 };

/** The canvas of the editor and of view mode: one component; `readOnly` (from the store)
 * leaves panning, zooming, fitting and picking a node to look at. */
export function Canvas({ minimap = true }: { minimap?: boolean }) {
  const store = useEditorStore();
  const nodes = useShownNodes();
  const edges = useStyledEdges();
  const snapToGrid = useEditor((s) => s.snapToGrid);
  const readOnly = useEditor((s) => s.readOnly);
  const minimapColour = useMinimapColour();
  const { screenToFlowPosition } = useReactFlow();
  const upload = useUploader();
  // Fit only a graph that exists when the editor opens: on a new canvas, fitting when the first
  // node appears would yank the view away from where it was dropped.
  const [fitOnOpen] = useState(() => store.getState().nodes.length > 0);
  const { onNodesChange, onEdgesChange, beginDrag, endDrag, setSelection } = store.getState();

  // Reads the store when called, so dragging a wire never re-renders the canvas.
  const isValidConnection = useCallback(
    (c: Connection | Edge) => {
      const { nodes: n, edges: e, catalogue } = store.getState();
      return checkConnection(c, n, e, catalogue).ok;
    },
    [store],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      const result = store.getState().connect(c);
      if (!result.ok) store.getState().toast("error", result.reason);
    },
    [store],
  );

  const onConnectEnd = useCallback(
    (_: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      if (state.isValid !== false || !state.toHandle || !state.fromHandle) return;
      const fromSource = state.fromHandle.type === "source";
      const [a, b] = fromSource ? [state.fromHandle, state.toHandle] : [state.toHandle, state.fromHandle];
      const { nodes: n, edges: e, catalogue, toast } = store.getState();
      const result = checkConnection(
        { source: a.nodeId, sourceHandle: a.id, target: b.nodeId, targetHandle: b.id },
        n,
        e,
        catalogue,
      );
      toast("error", result.ok ? "Connect an output (right) to an input (left)" : result.reason);
    },
    [store],
  );

  const onSelectionChange = useCallback(
    ({ nodes: picked }: OnSelectionChangeParams) => {
      setSelection(picked.map((n) => n.id));
    },
    [setSelection],
  );

  const onDrop = useCallback(
    (event: DragEvent) => {
      if (store.getState().readOnly) return;
      // A file from the desktop: uploaded, onto the media input node under it or a new one.
      const file = event.dataTransfer.files[0];
      if (file) {
        event.preventDefault();
        const target = (event.target as Element).closest?.(".react-flow__node")?.getAttribute("data-id") ?? null;
        void dropFile(store, upload, file, screenToFlowPosition({ x: event.clientX, y: event.clientY }), target);
        return;
      }
      const nodeType = event.dataTransfer.getData(NODE_DRAG_MIME);
      if (!nodeType) return;
      event.preventDefault();
      const position = screenToFlowPosition({ x: event.clientX, y: event.clientY });
      const { addNode, addSticky } = store.getState();
      if (nodeType === "note:sticky") addSticky(position);
      else addNode(nodeType, { x: position.x - 130, y: position.y - 30 });
    },
    [screenToFlowPosition, store, upload],
  );

  return (
    <div
      className={`wf-canvas${readOnly ? " is-readonly" : ""}`}
      onDragOver={readOnly ? undefined : onDragOver}
      onDrop={onDrop}
    >
      <ReactFlow<WfNode, WfEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        isValidConnection={isValidConnection}
        onConnectEnd={onConnectEnd}
        onNodeDragStart={beginDrag}
        onNodeDragStop={endDrag}
        onSelectionDragStart={beginDrag}
        onSelectionDragStop={endDrag}
        onSelectionChange={onSelectionChange}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        edgesReconnectable={!readOnly}
        nodesFocusable={!readOnly}
        edgesFocusable={!readOnly}
        deleteKeyCode={null}
        selectionKeyCode={readOnly ? null : "Shift"}
        multiSelectionKeyCode={MULTI_SELECT_KEYS}
        selectionMode={SelectionMode.Partial}
        snapToGrid={snapToGrid}
        snapGrid={SNAP}
        onlyRenderVisibleElements={nodes.length > 60}
        minZoom={0.1}
        maxZoom={2.5}
        fitView={fitOnOpen}
        fitViewOptions={FIT}
        proOptions={PRO}
        defaultEdgeOptions={EDGE_DEFAULTS}
        connectionRadius={28}
      >
        <Background variant={BackgroundVariant.Dots} gap={16} size={1.3} color="#cbd5e1" />
        {minimap ? (
          <MiniMap
            pannable
            zoomable
            nodeColor={minimapColour}
            nodeStrokeWidth={2}
            className="wf-minimap"
            ariaLabel="Minimap"
            style={MINIMAP_STYLE}
          />
        ) : null}
        <Controls showInteractive={false} position="bottom-left" />
      </ReactFlow>
      {readOnly ? null : <DropStatus />}
      {readOnly ? null : <DescribeBox />}
    </div>
  );
}

function onDragOver(event: DragEvent) {
  const { types } = event.dataTransfer;
  if (!types.includes(NODE_DRAG_MIME) && !types.includes("Files")) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
}

/** The graph, plus the ghosts of nodes removed since a compared version. */
function useShownNodes(): WfNode[] {
  const nodes = useEditor((s) => s.nodes);
  const ghosts = useEditor((s) => s.compare?.ghosts.nodes);
  return useMemo(() => (ghosts?.length ? [...nodes, ...ghosts] : nodes), [nodes, ghosts]);
}

function useMinimapColour(): (node: WfNode) => string {
  const catalogue = useEditor((s) => s.catalogue);
  return useCallback(
    (node: WfNode) =>
      node.type === "stickyNote"
        ? "#fde68a"
        : categoryColour(catalogue.get(node.data.nodeType)?.category ?? node.data.category),
    [catalogue],
  );
}

/**
 * Edges coloured by the type they carry, animated into running nodes, red where the server
 * found a problem. Node positions are not inputs, so dragging does not restyle 500 edges.
 */
function useStyledEdges(): WfEdge[] {
  const edges = useEditor((s) => s.edges);
  const ids = useEditorList((s) => s.nodes.map((n) => n.id));
  const types = useEditorList((s) => s.nodes.map((n) => (isBasedNode(n) ? n.data.nodeType : "")));
  const catalogue = useEditor((s) => s.catalogue);
  const issues = useEditor((s) => s.issues.edges);
  const runNodes = useEditor((s) => s.run.nodes);
  const compare = useEditor((s) => s.compare);
  return useMemo(() => {
    const typeOf = new Map(ids.map((id, i) => [id, types[i]]));
    const added = new Set(compare?.diff.edgesAdded ?? []);
    const styled = edges.map((e) => {
      const type = outputPortType(typeOf.get(e.source), e.sourceHandle, catalogue);
      const bad = issues[e.id];
      const animated = runNodes[e.target]?.status === "RUNNING";
      const stroke = bad ? "#dc2626" : type ? PORT_COLOURS[type] : "#94a3b8";
      const className = bad ? "wf-edge--error" : added.has(e.id) ? "wf-edge--added" : undefined;
      return {
        ...e,
        animated,
        className,
        style: { stroke, strokeWidth: bad ? 2.5 : 2 },
        label: bad ? bad[0] : undefined,
      };
    });
    return compare?.ghosts.edges.length ? [...styled, ...compare.ghosts.edges] : styled;
  }, [edges, ids, types, catalogue, issues, runNodes, compare]);
}
