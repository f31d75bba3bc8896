/** The local notification receiver the tests use (it lives in src/dev because `npm run demo` uses it too). */
export { WebhookReceiver, verifySignature, type ReceivedRequest } from '../../src/dev/webhook-receiver';
