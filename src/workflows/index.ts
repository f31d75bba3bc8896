export { healthCheck } from './health';
export { orderWorkflow } from './order';
export { deskWorkflow } from './desk';
export { positionMonitorWorkflow } from './position-monitor';
export { positionsWatchWorkflow } from './positions';
