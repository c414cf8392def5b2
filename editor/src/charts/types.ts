// The statistics a page hands to its charts (json_script "chart-data"): the shapes of
// GET /api/v1/stats and GET /api/v1/workflows/{id}/stats (docs/api.md "Runs and statistics"), declared
// here because the generated API types do not have them yet.

export interface DayRow {
  date: string; // YYYY-MM-DD, UTC
  runs: number;
  completed: number;
  failed: number;
  cancelled: number;
  creditsUsed: number;
  p50DurationMs: number | null;
}

export interface WorkflowRow {
  workflowId: string;
  name: string;
  runs: number;
  completed: number;
  failed: number;
  creditsUsed: number;
  p50DurationMs: number | null;
}

export interface NodeTypeRow {
  nodeType: string;
  nodeTypeLabel: string;
  category: string;
  runs: number;
  failed: number;
  creditsUsed: number;
}

export interface NodeRow extends NodeTypeRow {
  nodeId: string;
  label: string;
  p50DurationMs: number | null;
}

// The Usage page's credits per day, from the ledger's charges.
export interface CreditDay {
  date: string;
  creditsUsed: number;
}

export interface ChartData {
  byDay?: DayRow[];
  byWorkflow?: WorkflowRow[];
  byNodeType?: NodeTypeRow[];
  byNode?: NodeRow[];
  ledgerByDay?: CreditDay[];
}

export type ChartName = "runsPerDay" | "creditsPerDay" | "topWorkflows" | "topNodeTypes" | "topNodes" | "ledgerPerDay";
