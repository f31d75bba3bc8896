export * from './merge';
export * from './price';
export * from './records';
export * from './reject-codes';
export * from './schemas';
export * from './timestamp';
