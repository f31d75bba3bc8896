#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { warnUnknownFlowguardVariables } from './config/env-names';
import { registerHealthCommand } from './cli/health';
import { ExitCode } from './cli/io';
import { registerOrderPreview } from './cli/order-preview';
import { registerOrderCommands } from './cli/orders';
import { registerMonitorCommands } from './cli/monitor';
import { registerReplayCommand } from './cli/replay';

/** The `flowguard` command line; each business area registers its own commands. */
export function buildProgram(): Command {
  const program = new Command('flowguard')
    .description('flowguard: order-flow position protection and durable order management on Temporal')
    .showHelpAfterError()
    .exitOverride();
  registerHealthCommand(program);
  const order = program.command('order').description('price, place and track limit orders');
  registerOrderPreview(order);
  registerOrderCommands(program, order);
  registerReplayCommand(program);
  registerMonitorCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // On stderr, so a --json consumer still gets exactly one object on stdout.
  warnUnknownFlowguardVariables();
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; everything commander rejects is invalid input.
      process.exitCode = err.exitCode === 0 ? ExitCode.Ok : ExitCode.InvalidInput;
      return;
    }
    throw err;
  }
}

if (require.main === module) {
  void main(process.argv);
}
