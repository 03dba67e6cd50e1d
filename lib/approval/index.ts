export {
  ApprovalEngine,
  APPROVALS_NS,
  DECISIONS_NS,
  type ApprovalEngineOptions,
  type ApprovalEvents,
  type DecideInput,
  type DecideResult,
  type RefusalCode,
  type RequestInput,
} from './engine';
export { ApprovalLinks, hashToken, LINKS_NS, USED_LINKS_NS, type LinkLookup, type LinkRecord, type MintedLink } from './links';
export { APPROVAL_PAGE_CSP, createApprovalPageHandler, escapeHtml, type ApprovalPageOptions } from './page';
export * from './records';
export { carriesApproval, checkApprovalFor, type ApprovalGuard } from './guard';
export { approvalDigest, verifyApproval, type ApprovalCheck } from '../contract/approval';
