import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  OPERATIONS,
  methodsFor,
  operationNamed,
  operationsMarkdownTable,
} from '../../../gateway/operations/operation-table.ts';

describe('operation table', () => {
  it('is the route table of docs/routes.md, word for word', () => {
    const doc = readFileSync('docs/routes.md', 'utf8');
    const section = /<!-- operations:begin -->\n([\s\S]*?)\n<!-- operations:end -->/.exec(doc);
    expect(section, 'docs/routes.md has an operations section').not.toBeNull();
    expect(section![1]).toBe(operationsMarkdownTable());
  });

  it('declares each operation and each method + route once', () => {
    expect(new Set(OPERATIONS.map((op) => op.operation)).size).toBe(OPERATIONS.length);
    expect(new Set(OPERATIONS.map((op) => `${op.method} ${op.route}`)).size).toBe(OPERATIONS.length);
  });

  it('rebuilds upstream paths from what it understood, never from the caller path', () => {
    const get = operationNamed('models.get')!;
    expect(get.upstreamPath({ params: { model_id: '../../v1/files' }, query: {} })).toBe(
      '/v1/models/..%2F..%2Fv1%2Ffiles',
    );
    const list = operationNamed('models.list')!;
    expect(list.upstreamPath({ params: {}, query: { limit: '2', evil: 'x', after_id: ['a', 'b'] } })).toBe(
      '/v1/models?limit=2',
    );
    expect(operationNamed('files.get')!.upstreamPath({ params: { file_id: '../models' }, query: {} })).toBe(
      '/v1/files/..%2Fmodels',
    );
    const files = operationNamed('files.list')!;
    expect(files.upstreamPath({ params: {}, query: { limit: '2', page: 'p1', ids: 'x', scope_id: 'y' } })).toBe(
      '/v1/files?limit=2&page=p1',
    );
    expect(operationNamed('messages.create')!.upstreamPath({ params: {}, query: { beta: 'true' } })).toBe(
      '/v1/messages',
    );
    const results = operationNamed('batches.results')!;
    expect(results.upstreamPath({ params: { batch_id: '../../files/f?x=1' }, query: {} })).toBe(
      '/v1/messages/batches/..%2F..%2Ffiles%2Ff%3Fx%3D1/results',
    );
    const batches = operationNamed('batches.list')!;
    expect(batches.upstreamPath({ params: {}, query: { limit: '5', beta: 'true' } })).toBe(
      '/v1/messages/batches?limit=5',
    );
  });

  it('knows the methods of each path, with or without a connection prefix', () => {
    expect(methodsFor('/v1/messages')).toEqual(['POST']);
    expect(methodsFor('/c/secondary/v1/models/claude-x')).toEqual(['GET']);
    expect(methodsFor('/v1/models/a/b')).toEqual([]);
    expect(methodsFor('/v1/files/file_1')).toEqual(['GET', 'DELETE']);
    expect(methodsFor('/v1/files/a/b')).toEqual([]);
    expect(methodsFor('/v1/messages/batches')).toEqual(['POST', 'GET']);
    expect(methodsFor('/c/secondary/v1/messages/batches/msgbatch_1')).toEqual(['GET', 'DELETE']);
    expect(methodsFor('/v1/messages/batches/msgbatch_1/cancel')).toEqual(['POST']);
  });
});
