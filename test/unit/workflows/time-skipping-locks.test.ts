import { msNumberToTs } from '@temporalio/common/lib/time';
import { pendingTimerDueTimes } from '../../support/time-skipping-locks';

/** The harness's reading of a history's timers (test/support/time-skipping-locks.ts). */
describe('pendingTimerDueTimes', () => {
  // As the client reads them: seconds as a Long.
  const at = msNumberToTs;
  const startedTimer = (timerId: string, atMs: number, fireMs: number) => ({
    eventTime: at(atMs),
    timerStartedEventAttributes: { timerId, startToFireTimeout: at(fireMs) },
  });

  it('lists the timers neither fired nor cancelled, each at its start plus its timeout', () => {
    const events = [
      startedTimer('1', 1_000, 30_000),
      { timerFiredEventAttributes: { timerId: '1' } },
      startedTimer('2', 31_000, 30_000),
      startedTimer('3', 31_500, 900_500),
      { timerCanceledEventAttributes: { timerId: '3' } },
      startedTimer('4', 32_000, 60_250),
    ];
    expect(pendingTimerDueTimes(events)).toEqual([61_000, 92_250]);
  });

  it('finds none in a history without timers', () => {
    expect(pendingTimerDueTimes([{ workflowExecutionStartedEventAttributes: {} }])).toEqual([]);
  });
});
