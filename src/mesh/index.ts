export { MeshError, isMeshError, type MeshErrorCode } from './errors.js';
export {
  parseSpiffeId,
  parseTrustDomain,
  parseWorkloadId,
  workloadId,
  SpiffeAllowList,
  type SpiffeId,
} from './spiffe.js';
export { BuiltInCa, caPaths, ROOT_KEY_NAME, INTERMEDIATE_KEY_NAME, type CaPaths } from './ca.js';
export { newSvid, newWorkloadKey, SVID_DEFAULT_TTL_MS, type SvidMaterial, type SvidIssuer } from './svid.js';
export { WorkloadIdentity, type SvidSource } from './identity.js';
export {
  parseTrustBundle,
  builtInBundle,
  spiffeBundleCertificates,
  type TrustBundle,
} from './trust-bundle.js';
export {
  InMemoryRevocationList,
  readRevocations,
  recordRevocation,
  watchRevocations,
  type RevocationList,
  type RevokedEntry,
} from './revocation.js';
export { verifyPeerChain, verifyTlsPeer, recheckPeer, type PeerPolicy, type VerifiedPeer } from './peer.js';
export { meshServerTls, meshConnector, type ClientCertificateMode, type MeshServerTls } from './tls.js';
export { openMesh, type Mesh, type MeshConfig } from './open.js';
export { startMeshWorkload, type MeshWorkload } from './workload.js';
export { certificateFacts, normalizeSerial, derToPem, pemCertificates } from './x509.js';
export { writeFileAtomic } from './files.js';
