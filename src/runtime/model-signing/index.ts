/**
 * Signed model manifests in the OpenSSF model-signing format (sigstore/model-transparency):
 * a Sigstore bundle v0.3 holding a DSSE envelope whose payload is an in-toto Statement v1 with
 * predicate type `https://model_signing/signature/v1.0` over the model files' SHA-256 digests.
 */
export * from './errors.js';
export {
  comparePaths,
  DEFAULT_SHARD_SIZE,
  GIT_PATHS,
  hashFile,
  hashModel,
  hashWithSerialization,
  normalizeIgnorePaths,
  type HashOptions,
  type Manifest,
  type ManifestItem,
  type Serialization,
  type SerializationMethod,
} from './manifest.js';
export {
  buildStatement,
  encodeStatement,
  parseStatement,
  rootDigest,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_TYPE,
  MODEL_SIGNING_PREDICATE_TYPE,
  type InTotoStatement,
  type SignedManifest,
} from './statement.js';
export {
  dsseAlgorithmOf,
  keyProviderSigner,
  p1363ToDer,
  pae,
  privateKeySigner,
  publicKeyHint,
  verifyDsse,
  type DsseAlgorithm,
  type DsseSigner,
  type SigningKeys,
} from './dsse.js';
export {
  buildBundle,
  parseBundle,
  BUNDLE_MEDIA_TYPE,
  type ParsedBundle,
  type SigstoreBundleJson,
} from './bundle.js';
export { certificatesFromPem, verifyCertificateChain, type VerifiedChain } from './certificates.js';
export { resolveIgnorePath, relativeInside } from './paths.js';
export {
  defaultSignaturePath,
  keyManagerSigningKeys,
  signModel,
  type SignedModel,
  type SignOptions,
} from './sign.js';
export {
  compareManifests,
  verifyBundle,
  verifyModel,
  type ModelTrust,
  type ModelVerification,
  type VerifiedSigner,
  type VerifyOptions,
} from './verify.js';
