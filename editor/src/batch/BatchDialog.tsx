import { useState } from "react";
import { Dialog } from "../components/Dialog";
import { useEditorStore } from "../store";
import "./batch.css";
import { BatchProgress } from "./BatchProgress";
import { BatchSetup } from "./BatchSetup";

/**
 * Batch: run the saved workflow once per row of a CSV (uploaded or pasted), a few rows at a
 * time. First the rows, previewed as the inputs they fill, with the estimate and the
 * concurrency; then the batch's progress, its rows' outputs, cancel and the downloads.
 * Escape closes (a running batch goes on; its results stay downloadable from the API).
 */
export function BatchDialog() {
  const store = useEditorStore();
  const [batchId, setBatchId] = useState<string | null>(null);
  const close = () => store.getState().setDialog(null);
  return (
    <Dialog title="Batch run" onClose={close} testId="batch-dialog">
      <div className="wf-batch">
        {batchId ? <BatchProgress batchId={batchId} /> : <BatchSetup onStarted={setBatchId} onCancel={close} />}
      </div>
    </Dialog>
  );
}
