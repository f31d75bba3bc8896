export * from './json';
export * from './line-records';
export * from './price';
export * from './record-file';
export * from './records';
export * from './reject-codes';
export * from './schemas';
export * from './timestamp';
