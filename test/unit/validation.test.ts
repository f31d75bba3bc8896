import { z } from 'zod';
import { parseOrThrow, ValidationError } from '../../src/domain/validation';
import { DetectorConfigSchema, DEFAULT_DETECTOR_CONFIG } from '../../src/domain/detectors/config';

describe('parseOrThrow', () => {
  it('names the field and the rule', () => {
    const schema = z.object({ quantity: z.number().int('must be an integer') });
    expect(() => parseOrThrow(schema, { quantity: 1.5 }, 'order')).toThrow('order.quantity: must be an integer');
  });

  it('collects every issue', () => {
    try {
      parseOrThrow(DetectorConfigSchema, { largeOrderSize: 5, exitAlertCount: 1 });
      throw new Error('expected a ValidationError');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues.map((i) => i.field).sort()).toEqual(['exitAlertCount', 'largeOrderSize']);
    }
  });
});

describe('DetectorConfigSchema', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_DETECTOR_CONFIG).toMatchObject({
      largeOrderSize: 10_000,
      volumeSpikeThreshold: 3,
      redBurstThreshold: 4,
      redBurstSellShare: 0.6,
      alertWindowSeconds: 120,
      exitAlertCount: 3,
      baselineMinutes: 5,
      staleWarnSeconds: 10,
      staleRejectSeconds: 30,
    });
  });

  it('refuses a red-burst threshold below the spike threshold', () => {
    expect(() => parseOrThrow(DetectorConfigSchema, { volumeSpikeThreshold: 5, redBurstThreshold: 4 })).toThrow(
      'redBurstThreshold: must be ≥ volumeSpikeThreshold (5)',
    );
  });
});
