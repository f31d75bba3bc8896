#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { warnUnknownFlowguardVariables } from './config/env-names';
import { registerHealthCommand } from './cli/health';
import { ExitCode } from './cli/io';
import { registerOrderPreview } from './cli/order-preview';
import { registerOrderCommands } from './cli/orders';
import { registerMonitorCommands } from './cli/monitor';
import { registerNotifyCommands } from './cli/notify';
import { registerPositionsCommands } from './cli/positions';
import { registerReplayCommand } from './cli/replay';

/** package.json sits one level up both from src/ (a checkout) and from dist/ (the build). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Long options given more than once on one command line, e.g. ["--side"] for `--side buy ... --side sell`. */
export function repeatedOptions(args: readonly string[]): string[] {
  const seen = new Map<string, number>();
  for (const arg of args) {
    if (arg === '--') break;
    const name = /^(--[a-z][a-z0-9-]*)(=|$)/.exec(arg)?.[1];
    if (name !== undefined) seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([name]) => name);
}

/** The `flowguard` command line; each business area registers its own commands. */
export function buildProgram(): Command {
  const program = new Command('flowguard')
    .description('flowguard: order-flow position protection and durable order management on Temporal')
    .version(packageVersion(), '--version', 'print the version')
    .showHelpAfterError()
    .exitOverride()
    // Commander keeps the last of a repeated option; `--side buy ... --side sell` is more likely a mistake than
    // a correction, and an order is no place to guess.
    .hook('preAction', (_program, actionCommand) => {
      const repeated = repeatedOptions(program.args);
      if (repeated.length > 0) {
        actionCommand.error(`invalid input: ${repeated.join(', ')}: given more than once; give each option once`, {
          exitCode: 2,
          code: 'flowguard.repeatedOption',
        });
      }
    });
  registerHealthCommand(program);
  const order = program.command('order').description('price, place and track limit orders');
  registerOrderPreview(order);
  registerOrderCommands(program, order);
  registerReplayCommand(program);
  registerMonitorCommands(program);
  registerPositionsCommands(program);
  registerNotifyCommands(program);
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
