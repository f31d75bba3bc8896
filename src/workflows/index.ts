export { healthCheck } from './health';
