// Shapes of the admin API responses the console reads (src/gateway/openapi-schemas.ts).

export interface Session {
  readonly user: { readonly id: string; readonly name?: string; readonly roles: readonly string[] };
  readonly csrfToken: string;
  readonly expiresAt: string;
}

export interface AuditEntry {
  readonly requestId: string;
  readonly time: string;
  readonly phase: 'release' | 'complete' | 'refused' | 'control';
  readonly action: string;
  readonly principalId: string | null;
  readonly modelId?: string | null;
  readonly upstreamId?: string | null;
  readonly decision: 'allow' | 'deny' | null;
  readonly determiningPolicies?: readonly string[];
  readonly obligations?: readonly string[];
  readonly bundleDigest?: string | null;
  readonly findings?: Readonly<Record<string, number>>;
  readonly transformations?: readonly string[];
  readonly status: number;
  readonly errorCode?: string | null;
  readonly latencyMs?: number;
  readonly dataClass?: string | null;
  readonly runtimeId?: string | null;
  readonly attestationId?: string | null;
  readonly target?: string;
  readonly [key: string]: unknown;
}

export interface LedgerRow {
  readonly seq: number;
  readonly index: number;
  readonly storedAt: string;
  readonly entry: AuditEntry;
}

export interface LedgerEntries {
  readonly entries: readonly LedgerRow[];
  readonly nextAfterSeq: number | null;
}

export interface Incident {
  readonly id: string;
  readonly status: 'open' | 'acknowledged' | 'resolved';
  readonly playbookId: string;
  readonly subject: { readonly kind: string; readonly id: string };
  readonly severity: 'low' | 'medium' | 'high' | 'critical';
  readonly reason: string;
  readonly evidence: readonly string[];
  readonly actions: readonly string[];
  readonly openedAt: string;
  readonly updatedAt: string;
  readonly acknowledgedBy?: string;
  readonly resolvedBy?: string;
  readonly note?: string;
}

export interface IncidentList {
  readonly incidents: readonly Incident[];
  readonly counts: Readonly<Partial<Record<Incident['status'], number>>>;
}

export interface IncidentTimeline {
  readonly incident: Incident;
  readonly timeline: readonly {
    readonly seq: number;
    readonly storedAt: string;
    readonly entry: AuditEntry;
  }[];
}

export interface Quarantine {
  readonly target: { readonly kind: string; readonly id: string };
  readonly reason: string;
  readonly incidentId?: string;
  readonly actor: string;
  readonly at: number;
  readonly until?: number;
  readonly seq: number;
}

export interface QuarantineList {
  readonly quarantines: readonly Quarantine[];
  readonly pendingReleases: readonly {
    readonly target: { readonly kind: string; readonly id: string };
    readonly approvedBy: readonly string[];
    readonly requestedAt: string;
  }[];
  readonly underApproval: readonly Quarantine[];
  readonly disabledRuntimes: readonly Quarantine[];
}

export interface Approval {
  readonly id: string;
  readonly status: 'pending' | 'approved' | 'denied' | 'released' | 'expired';
  readonly tool: string;
  readonly requestedBy: string;
  readonly requestId: string;
  readonly model: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly decidedBy?: string;
  readonly decidedAt?: string;
  readonly reason?: string;
}

export interface Runtime {
  readonly id: string;
  readonly baseUrl: string;
  readonly region: string | null;
  readonly disabled: boolean;
  readonly attestation: string;
  readonly freshnessMs?: number;
  readonly approvedMeasurements?: readonly string[];
  readonly eligible?: boolean;
  readonly attested?: boolean;
  readonly insecure?: true;
  readonly measurement?: string;
  readonly attestationId?: string;
  readonly verifiedAt?: string;
  readonly expiresAt?: string;
  readonly reason?: string;
}

export interface KeyInfo {
  readonly name: string;
  readonly algorithm: string;
  readonly primaryVersion: number;
  readonly versions: readonly {
    readonly version: number;
    readonly state: 'active' | 'disabled' | 'destroyed';
    readonly createdAt: string;
    readonly destroyedAt?: string;
  }[];
}

export interface BundleStatus {
  readonly digest: string;
  readonly source: string;
  readonly builtin: boolean;
  readonly loadedAt: string;
  readonly signedBy: string | null;
  readonly policies: number;
  readonly tests: { readonly passed: number; readonly failed: number };
  readonly lastReload: {
    readonly at: string;
    readonly trigger: string;
    readonly outcome: string;
    readonly code: string | null;
  } | null;
}

export interface PolicyStatus {
  readonly live: BundleStatus;
  readonly shadow: BundleStatus | null;
}

export interface DecisionSummary {
  readonly effect: 'allow' | 'deny';
  readonly bundleDigest?: string;
  readonly determiningPolicies: readonly string[];
  readonly obligations: readonly string[];
  readonly errors?: readonly string[];
}

export interface ShadowDifference {
  readonly at: string;
  readonly requestId: string;
  readonly change: 'allow_to_deny' | 'deny_to_allow' | 'obligations_changed';
  readonly principalId: string | null;
  readonly action: string;
  readonly resource: string;
  readonly live: DecisionSummary;
  readonly shadow: DecisionSummary;
}

export interface ValidateResult {
  readonly ok: boolean;
  readonly digest?: string;
  readonly code?: string;
  readonly message?: string;
  readonly tests?: {
    readonly passed: number;
    readonly failed: number;
    readonly failures: readonly unknown[];
  };
}

export type ChangeCategory = 'allowedToDenied' | 'deniedToAllowed' | 'obligationsChanged';

/** src/policy/simulate.ts SimulationReport. */
export interface SimulationReport {
  readonly bundleDigest: string;
  readonly total: number;
  readonly unchanged: number;
  readonly allowedToDenied: number;
  readonly deniedToAllowed: number;
  readonly obligationsChanged: number;
  readonly skipped: number;
  readonly skippedReasons: {
    readonly noInput: number;
    readonly unknownVersion: number;
    readonly invalid: number;
  };
  readonly examples: Readonly<
    Record<
      ChangeCategory,
      readonly {
        readonly requestId: string;
        readonly time: string;
        readonly principalId: string | null;
        readonly action: string;
        readonly resource: string;
        readonly before: DecisionSummary;
        readonly after: DecisionSummary & { readonly errors: readonly string[] };
      }[]
    >
  >;
}
