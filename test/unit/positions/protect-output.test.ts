/** `order place --protect` says what protection it asked for, in the mode asked, with the article right. */
import { protectionLine } from '../../../src/cli/positions';
import { MonitorMode } from '../../../src/workflows/position-monitor';

describe('order place --protect output', () => {
  it('names the mode, the position and the watch that will start the monitor', () => {
    expect(protectionLine({ workflowId: 'positions:paper:main', mode: MonitorMode.AutoExit }, 'TSLA', '10')).toBe(
      'protect: an auto-exit monitor will start for 10 TSLA when the BUY fills (positions watch positions:paper:main)',
    );
    expect(protectionLine({ workflowId: 'positions:alpaca:ira', mode: MonitorMode.Alert }, 'AAPL', '5')).toBe(
      'protect: an alert monitor will start for 5 AAPL when the BUY fills (positions watch positions:alpaca:ira)',
    );
  });
});
